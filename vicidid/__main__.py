from vicidid.cli import main

main()
