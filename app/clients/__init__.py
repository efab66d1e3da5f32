"""Clients for the services Directmail calls, each knowing nothing of Flask (generated ones go here too)."""
