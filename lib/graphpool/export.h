/* Symbol export macro: the library is built with hidden visibility; only GP_API symbols are public. */
#ifndef GRAPHPOOL_EXPORT_H
#define GRAPHPOOL_EXPORT_H

#if defined(GP_BUILDING_LIBRARY) && defined(__GNUC__)
#define GP_API __attribute__((visibility("default")))
#else
#define GP_API
#endif

#endif
