// Animated GIFs (giflib), written through io::AtomicFile like the PNGs: the
// reverse process of sample --gif, one frame per recorded step.
#pragma once
#include <string>
#include <vector>

#include "apps/imaging/image.h"

namespace imaging {

// Writes `frames` (all the same size and channel count) as a GIF that loops
// forever, each frame shown `delay_cs` hundredths of a second and the last
// one `last_delay_cs`. Grey frames keep all 256 levels; RGB frames are
// mapped to a fixed 3-3-2 bit palette. Throws "<path>: ..." if it cannot.
void write_gif(const std::string& path, const std::vector<Image>& frames, int delay_cs,
               int last_delay_cs);

}  // namespace imaging
