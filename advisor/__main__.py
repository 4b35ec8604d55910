from advisor.cli import main

if __name__ == "__main__":  # not when imported (multiprocessing's spawn, tools)
    main()
