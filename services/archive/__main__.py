from services.archive.entrypoints.app import main

main()
