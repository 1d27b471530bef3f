"""Benchmarks: each script compares Recast with bare ffmpeg (or another way) in one run."""
