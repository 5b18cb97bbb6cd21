"""Delegates' feedback after the day, and what organisers learn from it."""
