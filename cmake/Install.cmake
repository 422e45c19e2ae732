# Installation layout and the Debian package (CPack DEB). Paths under the prefix follow
# GNUInstallDirs; systemd data goes to <prefix>/lib/{systemd/system,sysusers.d,tmpfiles.d}
# (systemd searches /usr/lib and /usr/local/lib); the default config goes to /etc/weightsd
# because that is where `weightsd --system` reads it.
include(GNUInstallDirs)

# ---- generated from the binaries at build time: man pages and shell completions --------------
# Man pages come from the same --help text the programs print (help2man), so they cannot drift.
find_program(HELP2MAN help2man)
set(WEIGHTS_GENERATED ${PROJECT_BINARY_DIR}/generated)
set(WEIGHTS_DOC_OUTPUTS)
if(HELP2MAN)
  add_custom_command(
    OUTPUT ${WEIGHTS_GENERATED}/man/weightsd.8.gz ${WEIGHTS_GENERATED}/man/weightsctl.1.gz
    COMMAND bash ${PROJECT_SOURCE_DIR}/cmake/gen-man.sh ${HELP2MAN} $<TARGET_FILE:weightsd>
            $<TARGET_FILE:weightsctl> ${PROJECT_SOURCE_DIR}/docs/man ${WEIGHTS_GENERATED}/man
    DEPENDS weightsd weightsctl ${PROJECT_SOURCE_DIR}/cmake/gen-man.sh
            ${PROJECT_SOURCE_DIR}/docs/man/weightsd.h2m ${PROJECT_SOURCE_DIR}/docs/man/weightsctl.h2m
    COMMENT "Generating man pages from --help (help2man)"
    VERBATIM)
  list(APPEND WEIGHTS_DOC_OUTPUTS ${WEIGHTS_GENERATED}/man/weightsd.8.gz
       ${WEIGHTS_GENERATED}/man/weightsctl.1.gz)
else()
  message(WARNING "help2man not found: man pages are not built (scripts/install-deps)")
endif()
# Completions come from the programs' own command trees (`weightsctl completion SHELL`,
# `weightsd --completion SHELL`).
foreach(prog weightsctl weightsd)
  if(prog STREQUAL weightsctl)
    set(flag completion)
  else()
    set(flag --completion)
  endif()
  set(out ${WEIGHTS_GENERATED}/completions)
  add_custom_command(
    OUTPUT ${out}/${prog} ${out}/_${prog} ${out}/${prog}.fish
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out}
    COMMAND sh -c "\"$1\" $2 bash >\"$3/$4\" && \"$1\" $2 zsh >\"$3/_$4\" && \"$1\" $2 fish >\"$3/$4.fish\""
            sh $<TARGET_FILE:${prog}> ${flag} ${out} ${prog}
    DEPENDS ${prog}
    COMMENT "Generating shell completions from ${prog}'s command tree"
    VERBATIM)
  list(APPEND WEIGHTS_DOC_OUTPUTS ${out}/${prog} ${out}/_${prog} ${out}/${prog}.fish)
endforeach()
add_custom_target(weights_generated_docs ALL DEPENDS ${WEIGHTS_DOC_OUTPUTS})

# ---- install rules -------------------------------------------------------------------------------
install(TARGETS weightsd weightsctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The unit names the binary's final path, which is only known at install time (CPack installs
# with its own prefix, /usr), so it is configured then.
install(CODE "
  set(WEIGHTS_FULL_BINDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
  set(WEIGHTS_FULL_DOCDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DOCDIR}\")
  configure_file(\"${PROJECT_SOURCE_DIR}/systemd/weightsd.service.in\"
                 \"${PROJECT_BINARY_DIR}/install-time/weightsd.service\" @ONLY)
  file(INSTALL \"${PROJECT_BINARY_DIR}/install-time/weightsd.service\"
       DESTINATION \"\${CMAKE_INSTALL_PREFIX}/lib/systemd/system\")
  configure_file(\"${PROJECT_SOURCE_DIR}/systemd/user/weightsd.service.in\"
                 \"${PROJECT_BINARY_DIR}/install-time/user/weightsd.service\" @ONLY)
  file(INSTALL \"${PROJECT_BINARY_DIR}/install-time/user/weightsd.service\"
       DESTINATION \"\${CMAKE_INSTALL_PREFIX}/lib/systemd/user\")
")
install(FILES systemd/weightsd.sysusers DESTINATION lib/sysusers.d RENAME weightsd.conf)
install(FILES systemd/weightsd.tmpfiles DESTINATION lib/tmpfiles.d RENAME weightsd.conf)

# Default config: never overwrite an administrator's file on `cmake --install`; the new default
# lands next to it as weightsd.toml.default. (The .deb marks it a conffile instead.)
install(CODE "
  set(dest \"\$ENV{DESTDIR}/etc/weightsd\")
  if(EXISTS \"\${dest}/weightsd.toml\")
    message(STATUS \"Keeping \${dest}/weightsd.toml; new default: weightsd.toml.default\")
    file(INSTALL \"${PROJECT_SOURCE_DIR}/config/weightsd.toml\" DESTINATION \"/etc/weightsd\"
         RENAME weightsd.toml.default)
  else()
    file(INSTALL \"${PROJECT_SOURCE_DIR}/config/weightsd.toml\" DESTINATION \"/etc/weightsd\")
  endif()
")

if(HELP2MAN)
  install(FILES ${WEIGHTS_GENERATED}/man/weightsctl.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
  install(FILES ${WEIGHTS_GENERATED}/man/weightsd.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
endif()
foreach(prog weightsctl weightsd)
  install(FILES ${WEIGHTS_GENERATED}/completions/${prog}
          DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
  install(FILES ${WEIGHTS_GENERATED}/completions/_${prog}
          DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)
  install(FILES ${WEIGHTS_GENERATED}/completions/${prog}.fish
          DESTINATION ${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d)
endforeach()
# The shipped model catalog (docs/catalog.md); weightsctl finds it next to its binary
# (<bin>/../share/weightsd/catalog).
install(DIRECTORY manifests/catalog/ DESTINATION ${CMAKE_INSTALL_DATADIR}/weightsd/catalog
        FILES_MATCHING PATTERN "*.toml")
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} FILES_MATCHING PATTERN "*.md")

# ---- Debian package -------------------------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME weightsd)
set(CPACK_PACKAGE_VENDOR "weightsd project")
set(CPACK_PACKAGE_CONTACT "weightsd maintainers <maintainers@weightsd.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "keeps open-weight AI model releases available over BitTorrent, verified end to end")
set(CPACK_PACKAGE_DESCRIPTION
    "weightsd follows signed feeds (TUF roles in DSSE envelopes, Ed25519) describing model\nreleases and mirrors their files over BitTorrent (hybrid v1+v2), checking every file's\nSHA-256 against the signed manifest. weightsctl publishes, fetches and inspects releases.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # Depends: from dpkg-shlibdeps on the binaries, plus
# git, which fetches a pinned commit's objects (core/upstream/git_pin) and is not a library.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "git")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/debian/conffiles ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
    ${PROJECT_SOURCE_DIR}/packaging/debian/prerm ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)
include(CPack)
