"""The Lingua language server (pygls): translates LSP requests into lingua_core calls."""
