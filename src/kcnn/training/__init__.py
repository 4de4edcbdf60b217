"""Training: the Keras model, the torch-native loop, callbacks, devices, throughput and `train`.

Importing this package is cheap; keras and torch are imported by the modules that need them.
"""
