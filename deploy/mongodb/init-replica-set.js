// Run by the first member's healthcheck (mongosh on localhost, every 10 s; idempotent):
// initiates the three-member replica set rs0, creates the administrator and the services'
// account on first start (the localhost exception allows the first user), sets the cluster's
// default write concern to majority and read concern to majority, and exits 0 only when the
// set has a primary. Passwords come from compose secrets, never from this file.
const fs = require("fs");
const secret = (name) => fs.readFileSync(`/run/secrets/${name}`, "utf8").trim();
const MEMBERS = ["mongodb:27017", "mongodb-2:27017", "mongodb-3:27017"];
const admin = db.getSiblingDB("admin");

let hello = admin.runCommand({ hello: 1 });
if (!hello.setName) {
  const config = {
    _id: "rs0",
    // The first member is preferred as primary; any of the three can take over.
    members: MEMBERS.map((host, i) => ({ _id: i, host, priority: i === 0 ? 2 : 1 })),
  };
  const result = admin.runCommand({ replSetInitiate: config });
  if (!result.ok && result.codeName !== "AlreadyInitialized") {
    print(`replSetInitiate: ${JSON.stringify(result)}`);
    quit(1);
  }
}

// Wait (bounded) for an election.
for (let i = 0; i < 30 && !(hello = admin.runCommand({ hello: 1 })).primary; i++) {
  sleep(1000);
}
if (!hello.primary) {
  print("replica set rs0 has no primary yet");
  quit(1);
}
if (!hello.isWritablePrimary) {
  quit(0); // another member is primary and the set answers: healthy; set-up is done there
}

const rootUser = "root";
const rootPassword = secret("mongodb_root_password");
let signedIn = false;
try {
  signedIn = admin.auth(rootUser, rootPassword).ok === 1;
} catch (e) {
  signedIn = false;
}
if (!signedIn) {
  // No user yet: the localhost exception lets us create the first one.
  admin.createUser({ user: rootUser, pwd: rootPassword, roles: [{ role: "root", db: "admin" }] });
  admin.auth(rootUser, rootPassword);
}
if (admin.getUser("vanthu") === null) {
  // The services' account: their own databases (vanthu_<service>) and the change streams the
  // archive's search index follows; clusterMonitor for the operator console's store facts.
  admin.createUser({
    user: "vanthu",
    pwd: secret("mongodb_vanthu_password"),
    roles: [
      { role: "readWriteAnyDatabase", db: "admin" },
      { role: "dbAdminAnyDatabase", db: "admin" },
      { role: "clusterMonitor", db: "admin" },
    ],
  });
}
// A write is acknowledged once a majority has it (survives the primary's loss); reads outside
// transactions see only majority-committed data. Transactions ask for snapshot + majority
// themselves (shared/db.py).
const current = admin.runCommand({ getDefaultRWConcern: 1 });
if (current.defaultWriteConcern?.w !== "majority" || current.defaultReadConcern?.level !== "majority") {
  admin.runCommand({
    setDefaultRWConcern: 1,
    defaultWriteConcern: { w: "majority", wtimeout: 10000 },
    defaultReadConcern: { level: "majority" },
  });
}
quit(0);
