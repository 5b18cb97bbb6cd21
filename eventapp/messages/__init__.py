"""Organisers' messages to an assembly's delegates, sent by email through the outbox."""
