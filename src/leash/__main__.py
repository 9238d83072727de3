from leash.cli import main

# The guard matters: vLLM's engine starts its worker with `spawn`, which imports this
# module again in the child; without it the child would run the CLI a second time.
if __name__ == "__main__":
    main()
