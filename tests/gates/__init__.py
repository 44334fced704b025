"""The quality gates of issue 22 (../shared/docs/reliability.md §5): sampled in `make test`, in full in `make gates`."""
