from lingua_core.cli.main import run

run()
