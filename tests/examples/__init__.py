"""The example host app (examples/notes): the package inside it changes nothing of its own."""
