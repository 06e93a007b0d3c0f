/* The protocol as data, from the tables that check it (vmm/commands.c):
 * query-qmp-schema in QEMU's SchemaInfo shape (qapi/introspect.json), so
 * that tools written for QEMU can read it, and query-commands. Type names
 * are spelled out where QEMU masks them. Integer arguments also carry
 * their range, as "x-min" and "x-max". */
#include <stdio.h>
#include <string.h>

#include "vmm/qmp.h"

static struct json_object *schema_entry(const char *name, const char *meta)
{
	struct json_object *e = json_object_new_object();

	json_object_object_add(e, "name", json_object_new_string(name));
	json_object_object_add(e, "meta-type", json_object_new_string(meta));
	return e;
}

static void add_builtin(struct json_object *schema, const char *name, const char *json_type)
{
	struct json_object *e = schema_entry(name, "builtin");

	json_object_object_add(e, "json-type", json_object_new_string(json_type));
	json_object_array_add(schema, e);
}

static void add_array(struct json_object *schema, const char *element)
{
	char name[64];
	struct json_object *e;

	snprintf(name, sizeof(name), "[%s]", element);
	e = schema_entry(name, "array");
	json_object_object_add(e, "element-type", json_object_new_string(element));
	json_object_array_add(schema, e);
}

static void add_object(struct json_object *schema, const char *name, const struct qmp_member *m);

/* The types every schema has: builtins, their lists, and "int or null". */
static void add_base_types(struct json_object *schema)
{
	static const char *const builtins[][2] = {
		{ "int", "int" }, { "str", "string" }, { "bool", "boolean" },
		{ "number", "number" }, { "any", "value" }, { "null", "null" },
	};
	struct json_object *alt = schema_entry("IntOrNull", "alternate"), *members;

	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		add_builtin(schema, builtins[i][0], builtins[i][1]);
	add_array(schema, "int");
	add_array(schema, "number");
	add_array(schema, "str");
	members = json_object_new_array();
	for (int i = 0; i < 2; i++) {
		struct json_object *m = json_object_new_object();

		json_object_object_add(m, "type", json_object_new_string(i ? "null" : "int"));
		json_object_array_add(members, m);
	}
	json_object_object_add(alt, "members", members);
	json_object_array_add(schema, alt);
	add_object(schema, "q_empty", NULL);
}

static const char *type_of(enum qmp_type t)
{
	switch (t) {
	case QMP_INT: return "int";
	case QMP_STR: return "str";
	case QMP_BOOL: return "bool";
	case QMP_NUMBER: return "number";
	case QMP_INT_OR_NULL: return "IntOrNull";
	case QMP_INT_LIST: return "[int]";
	case QMP_NUMBER_LIST: return "[number]";
	case QMP_STR_LIST: return "[str]";
	case QMP_ANY: return "any";
	}
	return "any";
}

/* The object type named name with these members (and the enum types of
 * those that take a fixed set of strings). */
static void add_object(struct json_object *schema, const char *name, const struct qmp_member *m)
{
	struct json_object *obj = schema_entry(name, "object"), *members = json_object_new_array();

	for (; m && m->name; m++) {
		struct json_object *e = json_object_new_object();
		char enum_name[128];

		json_object_object_add(e, "name", json_object_new_string(m->name));
		if (m->type == QMP_STR && m->values) {
			struct json_object *en, *values = json_object_new_array();

			snprintf(enum_name, sizeof(enum_name), "%s-%s", name, m->name);
			en = schema_entry(enum_name, "enum");
			for (unsigned int i = 0; m->values[i]; i++)
				json_object_array_add(values, json_object_new_string(m->values[i]));
			json_object_object_add(en, "values", values);
			json_object_array_add(schema, en);
			json_object_object_add(e, "type", json_object_new_string(enum_name));
		} else {
			json_object_object_add(e, "type", json_object_new_string(type_of(m->type)));
		}
		if (m->optional)
			json_object_object_add(e, "default", NULL);
		if (m->type == QMP_INT && (m->min || m->max)) {
			json_object_object_add(e, "x-min", json_object_new_int64(m->min));
			json_object_object_add(e, "x-max", json_object_new_int64(m->max));
		}
		json_object_array_add(members, e);
	}
	json_object_object_add(obj, "members", members);
	json_object_array_add(schema, obj);
}

struct json_object *qmp_schema(void)
{
	struct json_object *schema = json_object_new_array();

	add_base_types(schema);
	for (const struct qmp_command *c = qmp_commands; c->name; c++) {
		struct json_object *e = schema_entry(c->name, "command");
		char arg[96] = "q_empty", ret[96] = "q_empty", ret_list[100];

		if (c->args[0].name) {
			snprintf(arg, sizeof(arg), "q_obj_%s-arg", c->name);
			add_object(schema, arg, c->args);
		}
		if (c->returns) {
			snprintf(ret, sizeof(ret), "q_obj_%s-ret", c->name);
			add_object(schema, ret, c->returns);
		}
		if (c->returns_list) {
			snprintf(ret_list, sizeof(ret_list), "[%s]", ret);
			add_array(schema, ret);
		}
		json_object_object_add(e, "arg-type", json_object_new_string(arg));
		json_object_object_add(e, "ret-type", json_object_new_string(c->returns_list ? ret_list : ret));
		json_object_object_add(e, "allow-oob", json_object_new_boolean(0));
		json_object_array_add(schema, e);
	}
	for (const struct qmp_event *ev = qmp_events; ev->name; ev++) {
		struct json_object *e = schema_entry(ev->name, "event");
		char arg[96] = "q_empty";

		if (ev->data) {
			snprintf(arg, sizeof(arg), "q_obj_%s-arg", ev->name);
			add_object(schema, arg, ev->data);
		}
		json_object_object_add(e, "arg-type", json_object_new_string(arg));
		json_object_array_add(schema, e);
	}
	return schema;
}

struct json_object *qmp_command_names(void)
{
	struct json_object *list = json_object_new_array();

	for (const struct qmp_command *c = qmp_commands; c->name; c++) {
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "name", json_object_new_string(c->name));
		json_object_array_add(list, e);
	}
	return list;
}
