// Thunderbird user.js written by mail-setup-advisor: one mail account.
// Only for a NEW, empty profile (thunderbird -CreateProfile "name folder"): it
// sets the profile's whole account list, so in a profile in use it would hide
// the other accounts. Put this file in the new profile folder, start Thunderbird
// once, then delete this file: Thunderbird applies user.js at every start.
// No password is stored here: Thunderbird asks for it at the first connection.

// Account list
user_pref("mail.accountmanager.accounts", "account1");
user_pref("mail.accountmanager.defaultaccount", "account1");

// Account
user_pref("mail.account.account1.server", "server1");
user_pref("mail.account.account1.identities", "id1");

// Incoming server (IMAP)
user_pref("mail.server.server1.type", "imap");
user_pref("mail.server.server1.hostname", "outlook.example.org");
user_pref("mail.server.server1.port", 993);
user_pref("mail.server.server1.socketType", 3);
user_pref("mail.server.server1.userName", "ceo@example.org");
user_pref("mail.server.server1.authMethod", 10);
user_pref("mail.server.server1.name", "ceo@example.org");
user_pref("mail.server.server1.valid", true);
user_pref("mail.server.server1.login_at_startup", true);

// Identity
user_pref("mail.identity.id1.useremail", "ceo@example.org");
user_pref("mail.identity.id1.fullName", "");
user_pref("mail.identity.id1.smtpServer", "smtp1");
user_pref("mail.identity.id1.valid", true);

// Outgoing server (SMTP)
user_pref("mail.smtpserver.smtp1.type", "smtp");
user_pref("mail.smtpserver.smtp1.description", "Example Cloud");
user_pref("mail.smtpserver.smtp1.hostname", "smtp.example.org");
user_pref("mail.smtpserver.smtp1.port", 587);
user_pref("mail.smtpserver.smtp1.try_ssl", 2);
user_pref("mail.smtpserver.smtp1.authMethod", 10);
user_pref("mail.smtpserver.smtp1.username", "ceo@example.org");

// Outgoing server list
user_pref("mail.smtpservers", "smtp1");
user_pref("mail.smtp.defaultserver", "smtp1");
