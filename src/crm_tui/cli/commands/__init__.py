"""The ``crm`` sub-commands, grouped by what they work on."""
