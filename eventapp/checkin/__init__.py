"""Reception on the day: who has arrived, marked from a search, one tap each."""
