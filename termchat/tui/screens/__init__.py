"""Screens of the termchat app."""
