print("rule benchmark")
