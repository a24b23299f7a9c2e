from services.portal.entrypoints.app import main

main()
