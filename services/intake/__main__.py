from services.intake.entrypoints.app import main

main()
