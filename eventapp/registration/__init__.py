"""Delegate registration: the public form, capacity and waiting list, manage links, organiser views."""
