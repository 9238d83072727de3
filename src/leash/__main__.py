from leash.cli import main

main()
