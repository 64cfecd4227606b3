from vicidid.cli.commands import main

main()
