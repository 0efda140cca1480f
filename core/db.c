/* db.c -- stub, being written */
