print("gigachatd")
