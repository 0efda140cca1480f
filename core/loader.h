#ifndef JV_LOADER_H
#define JV_LOADER_H
#endif
