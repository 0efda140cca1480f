#ifndef JV_DB_H
#define JV_DB_H
#endif
