from ragfusion.cli import main

main()
