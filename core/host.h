#ifndef JV_HOST_H
#define JV_HOST_H
#endif
