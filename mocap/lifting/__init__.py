"""The lifter: 3D poses from the 2D of one camera (a temporal convolutional network in torch)."""
