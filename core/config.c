/* config.c -- stub, being written */
