from lingua_core.cli.main import main

main()
