// The mbio-cloud policy pack: `pulumi preview --policy-pack policy` (and `up`) checks every resource
// against the rules in rules.ts before anything is created. docs/security.md lists them.
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./rules";

new PolicyPack("mbio-cloud", { policies });
