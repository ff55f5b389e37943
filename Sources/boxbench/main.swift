print("boxbench")
