# weights_settings: language settings and sanitizers for every target of ours.
# weights_warnings: the warning set; -Werror when WEIGHTS_WERROR is on (CI).
add_library(weights_settings INTERFACE)
target_compile_features(weights_settings INTERFACE cxx_std_20)
target_compile_definitions(weights_settings INTERFACE WEIGHTS_VERSION="${PROJECT_VERSION}")
if(WEIGHTS_SANITIZE)
  target_compile_options(weights_settings INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer
                                                    -fno-sanitize-recover=undefined)
  target_link_options(weights_settings INTERFACE -fsanitize=address,undefined)
endif()

add_library(weights_warnings INTERFACE)
target_compile_options(weights_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align -Woverloaded-virtual
  -Wimplicit-fallthrough -Wformat=2
  # libtorrent 2.0.8 is built with its deprecated ABI; its headers warn about it.
  -Wno-deprecated-declarations)
if(WEIGHTS_WERROR)
  target_compile_options(weights_warnings INTERFACE -Werror)
endif()
