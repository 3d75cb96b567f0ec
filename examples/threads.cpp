// examples/threads.cpp — the seed's "scaling a very large image" with kaa threads.
//
// "In the event where blocking is unavoidable, and the duration of the block is unknown (for
// example, connecting to a remote host, or scaling a very large image), threads can be used.
// These two different approaches are unified with a very similar API." (seed/coroutines.rst)
//
// A coroutine awaits a threaded scale_image() running in the "images" pool, exactly as it would
// await another coroutine, while a timer keeps ticking on the main loop. The worker reports its
// progress through a MAINTHREAD function (printed on the loop thread). A second, bigger request
// is cancelled after 30 ms: its InProgress fails at once and the worker sees its stop_token.
// Exits 0.

#include <kaa/kaa.hpp>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

/// A grayscale image.
struct Image {
    int width = 0;
    int height = 0;
    std::vector<std::uint8_t> pixels;
};

/// A synthetic photograph: a smooth gradient with some texture.
std::shared_ptr<const Image> make_image(int width, int height) {
    auto img = std::make_shared<Image>();
    img->width = width;
    img->height = height;
    img->pixels.resize(static_cast<std::size_t>(width) * static_cast<std::size_t>(height));
    for (int y = 0; y < height; ++y) {
        for (int x = 0; x < width; ++x) {
            img->pixels[static_cast<std::size_t>(y) * static_cast<std::size_t>(width) +
                        static_cast<std::size_t>(x)] =
                static_cast<std::uint8_t>((x + y) / 16 + ((x * 7) ^ (y * 13)) % 32);
        }
    }
    return img;
}

/// Prints a line on the loop thread, whichever thread calls it (kaa's MAINTHREAD).
auto say = kaa::threaded({.pool = kaa::MAINTHREAD},
                         [](std::string line) { std::cout << line << std::endl; });

/// The blocking, CPU-heavy part: a box-filter downscale by `factor`, run in the "images" pool.
/// It updates its InProgressStatus per row, reports each quarter through say(), and gives up
/// when its stop token is signalled (the call was aborted, or the loop shuts down).
Image scale_image(std::stop_token stop, kaa::InProgressStatus& status,
                  std::shared_ptr<const Image> src, int factor) {
    Image out;
    out.width = src->width / factor;
    out.height = src->height / factor;
    out.pixels.resize(static_cast<std::size_t>(out.width) * static_cast<std::size_t>(out.height));
    status.set(0, out.height);
    int next_quarter = 1;
    for (int y = 0; y < out.height; ++y) {
        if (stop.stop_requested()) {
            say("  [worker] " + std::to_string(src->width) + "x" + std::to_string(src->height) +
                ": stop requested at row " + std::to_string(y) + ", giving up");
            return out;  // discarded: the InProgress already failed with InProgressAborted
        }
        for (int x = 0; x < out.width; ++x) {
            unsigned sum = 0;
            for (int dy = 0; dy < factor; ++dy) {
                const std::size_t row = static_cast<std::size_t>(y * factor + dy) *
                                        static_cast<std::size_t>(src->width);
                for (int dx = 0; dx < factor; ++dx) {
                    sum += src->pixels[row + static_cast<std::size_t>(x * factor + dx)];
                }
            }
            out.pixels[static_cast<std::size_t>(y) * static_cast<std::size_t>(out.width) +
                       static_cast<std::size_t>(x)] =
                static_cast<std::uint8_t>(sum / static_cast<unsigned>(factor * factor));
        }
        status.update();
        if (next_quarter <= 4 && (y + 1) * 4 >= out.height * next_quarter) {
            say("  [worker] " + std::to_string(src->width) + "x" + std::to_string(src->height) +
                ": " + std::to_string(25 * next_quarter) + "%");
            ++next_quarter;
        }
    }
    return out;
}

using ScaleFn = kaa::ThreadFunction<decltype(&scale_image)>;

/// Awaits the threaded scale like any other InProgress; the loop keeps running meanwhile.
kaa::Coroutine<int> make_thumbnail(ScaleFn scale, std::shared_ptr<const Image> img) {
    std::cout << "scaling " << img->width << "x" << img->height << " in a thread..." << std::endl;
    Image small = co_await scale(img, 4);
    std::cout << "thumbnail ready: " << small.width << "x" << small.height << " (on the "
              << (kaa::is_mainthread() ? "main" : "worker") << " thread)" << std::endl;
    co_return small.width;
}

/// Starts a bigger request and cancels it after 30 ms.
kaa::Coroutine<> cancelled_request(ScaleFn scale, std::shared_ptr<const Image> img) {
    auto job = scale(img, 2);
    co_await kaa::delay(30ms);
    if (job.finished()) {
        std::cout << "the big request finished before it could be cancelled" << std::endl;
        co_return;
    }
    job.abort();  // fails at once; the worker sees its stop_token
    std::cout << "big request cancelled: finished=" << job.finished() << " failed=" << job.failed()
              << std::endl;
}

}  // namespace

int main() {
    kaa::register_thread_pool("images", std::make_shared<kaa::ThreadPool>(2));
    ScaleFn scale({.pool = "images", .progress = true}, &scale_image);

    int ticks = 0;
    kaa::Timer ticker([&ticks] { ++ticks; });
    ticker.start(10ms);

    auto thumbnail = make_thumbnail(scale, make_image(4096, 3072));
    auto cancelled = cancelled_request(scale, make_image(8192, 6144));

    int ended = 0;
    auto done = [&ended] {
        if (++ended == 2) kaa::main::stop();
    };
    thumbnail.connect_both([&](int) { done(); }, [&](std::exception_ptr) { done(); });
    cancelled.connect_both([&] { done(); }, [&](std::exception_ptr) { done(); });

    kaa::main::run();
    ticker.stop();

    std::cout << "the loop ticked " << ticks << " times while the images were scaled" << std::endl;
    return thumbnail.finished() && !thumbnail.failed() && thumbnail.result() == 1024 ? 0 : 1;
}
