from services.signing.entrypoints.app import main

main()
