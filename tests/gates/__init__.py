"""The quality gates of issue 22 (the reliability design, §5): sampled in `make test`, in full in `make gates`."""
