"""The Textual app: screens, dialogs and widgets; database work only in thread workers."""
