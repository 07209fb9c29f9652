"""The ``crm`` command line (Typer): parse, call the store, print (Rich or ``--json``)."""
