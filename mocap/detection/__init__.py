"""2D detection: session videos in, every person's keypoints per camera out (DESIGN.md)."""
