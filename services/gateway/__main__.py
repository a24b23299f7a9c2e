from services.gateway.entrypoints.app import main

main()
