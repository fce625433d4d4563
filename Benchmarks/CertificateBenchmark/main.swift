print("certificate benchmark")
