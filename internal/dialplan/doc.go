// Package dialplan models an Asterisk 22 dialplan: the extensions.conf
// parser (pbx/pbx_config.c and main/config.c syntax), realtime
// `extensions` rows, extension lookup with Asterisk's pattern ordering
// (main/pbx.c ext_cmp and pbx_find_extension), ${VAR} substitution
// (main/pbx_variables.c), the $[...] expression language
// (main/ast_expr2.y) and the application argument splitter
// (main/app.c __ast_app_separate_args).
//
// A *Dialplan is built by Parse, ParseFile, AddRow and Merge. Those
// builders must not run concurrently with readers; once a plan is
// published it is treated as immutable and every read method is safe for
// concurrent use. To change a published plan, Clone it and modify the
// clone.
package dialplan
