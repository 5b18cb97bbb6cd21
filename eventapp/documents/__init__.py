"""Files an organiser attaches to an assembly: the agenda, slides, the Community Safety Agreement."""
