from services.dispatch.entrypoints.app import main

main()
