"""``python -m crm_tui``: the same as the ``crm`` command."""

from crm_tui.launcher import main

if __name__ == "__main__":
    main()
