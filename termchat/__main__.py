"""Allow `python -m termchat`."""

from termchat.cli import main

main()
